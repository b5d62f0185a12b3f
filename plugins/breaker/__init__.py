"""``breaker`` risk check: a circuit breaker per exchange, on order failures and on fee spikes.

Closed (orders flow) -> **open** after ``max_failures`` consecutive orders to one exchange ended
REJECTED or FAILED within ``window_s`` (a success in between starts the count again), or after a
fill whose fee is above ``max_fee_bps`` of its notional (a fee or priority-fee spike; a fee in the base asset
counts at the fill's price, as the ledger counts it; one in a third asset has no price here). While open,
every order to that exchange is vetoed for ``cooldown_s``; then the circuit is **half-open**: one
probe order may go. The venue answering the probe (it rests, fills, or ends any other way but
rejected or failed, e.g. an IOC cancelled unfilled) closes the circuit (an order observe mode only records
answers nothing: it is no probe, and counts neither as a success nor as a failure); the probe failing opens it
again for another cool-down. A probe with no answer after ``cooldown_s`` (never sent, or its outcome
unknown) no longer holds the circuit: the next order is a new probe. Each opening is stored and
alerted (identical causes coalesce into one alert with a count).

**Across a restart.** What keeps orders from a failing venue is kept in the store's ``bot_state`` (key
``risk:NAME``), written whenever it changes: each circuit's open-until time, its probe in flight and until when
that probe holds it, and its count of openings. A restart within ``cooldown_s`` keeps the circuit open; one
with a probe unanswered keeps the probe holding it. Deliberately not kept: the consecutive failures counted
towards opening a closed circuit (a restart counts afresh: at most ``max_failures`` more refused orders, which
the venue refused, before it opens).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from bot.api import (
    BPS,
    AlertLevel,
    Fill,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    PortfolioView,
    RiskCheck,
    hookimpl,
    option,
    split_symbol,
)

log = logging.getLogger(__name__)

NS = 1_000_000_000
FAILURES = frozenset({OrderStatus.REJECTED, OrderStatus.FAILED})
SUCCESSES = frozenset({OrderStatus.OPEN, OrderStatus.FILLED})
"""An OBSERVED order (observe mode) is neither: it was never sent, the venue answered nothing."""


@dataclass(frozen=True)
class BreakerSettings:
    max_failures: int = option(5, ge=1, le=10_000,
                               help="consecutive rejected or failed orders to one exchange that open "
                                             "its circuit...")
    window_s: float = option(60.0, ge=0.01, le=86_400, help="...when they all happened within this many seconds")
    cooldown_s: float = option(30.0, ge=0.01, le=86_400,
                               help="how long an open circuit refuses every order to its exchange, and how "
                                    "long its probe order may go unanswered before another may go")
    max_fee_bps: Decimal | None = option(None, gt=0, help="a fill whose fee is above this, in basis points of its "
                                                          "notional, opens the circuit (fee or priority-fee "
                                                          "spike); fees in the quote currency only")
    exchanges: list[str] = option([], help="exchanges to guard; empty: every exchange")


@dataclass
class Circuit:
    """The breaker of one exchange."""

    failures: deque[int] = field(default_factory=deque)
    """Times (ns) of the consecutive failures."""
    open_until_ns: int | None = None
    probe: str | None = None
    """Client order id of the half-open probe in flight."""
    probe_until_ns: int = 0
    """When the probe stops holding the circuit: an order the gate accepted may never be sent (dropped
    with its rolled-back intent, refused by the executor), and then no update of it ever comes."""
    trips: int = 0

    def state(self, now_ns: int) -> str:
        if self.open_until_ns is None:
            return "closed"
        return "open" if now_ns < self.open_until_ns else "half-open"


class Breaker(RiskCheck):
    """One circuit per exchange; see the module docstring."""

    Settings = BreakerSettings
    exchange_settings = ("exchanges",)

    def __init__(self, name, settings, ctx):
        super().__init__(name, settings, ctx)
        self.circuits: dict[str, Circuit] = {}
        self._watch = set(settings.exchanges)
        self._unreadable_until_ns: int | None = None
        """The stored circuits could not be read at start: every circuit starts open until then (fail closed)."""

    async def start(self) -> None:
        self._restore()
        self.ctx.bus.subscribe(OrderUpdate, self.on_order_update, owner=self.name)

    # --- kept across restarts -----------------------------------------------------------------

    @property
    def _state_key(self) -> str:
        return f"risk:{self.name}"

    def _save(self) -> None:
        """Keep the circuits that are not plainly closed (open, half-open, probing) in the store's ``bot_state``."""
        kept = {name: {"open_until_ns": c.open_until_ns, "probe": c.probe, "probe_until_ns": c.probe_until_ns,
                       "trips": c.trips}
                for name, c in self.circuits.items() if c.open_until_ns is not None or c.trips}
        try:
            self.ctx.store.set_state(self._state_key, json.dumps(kept, sort_keys=True), self.ctx.clock.time_ns())
        except Exception:  # the circuit holds in this run whatever the store says
            log.exception("breaker %s: the circuits could not be stored; a restart would not keep them", self.name)

    def _restore(self) -> None:
        text = self.ctx.store.get_state(self._state_key)
        if not text:
            return
        try:
            kept = json.loads(text)
            restored = {}
            for name, c in kept.items():
                open_until = c["open_until_ns"]
                probe = c["probe"]
                if not (open_until is None or type(open_until) is int) or not (probe is None or isinstance(probe, str)):
                    raise TypeError(name)
                restored[name] = Circuit(open_until_ns=open_until, probe=probe, probe_until_ns=int(c["probe_until_ns"]),
                                         trips=int(c["trips"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            # fail closed: every circuit kept is unreadable, so each venue it may name starts open for a cool-down
            log.error("breaker %s: the stored circuits cannot be read (%r); every watched exchange starts with its "
                      "circuit open for cooldown_s", self.name, text)
            self._unreadable_until_ns = self.ctx.clock.time_ns() + int(self.settings.cooldown_s * NS)
            return
        for name, circuit in restored.items():
            if not self._watch or name in self._watch:
                self.circuits[name] = circuit

    def _circuit(self, exchange: str) -> Circuit | None:
        if self._watch and exchange not in self._watch:
            return None
        circuit = self.circuits.get(exchange)
        if circuit is None:
            circuit = self.circuits[exchange] = Circuit(open_until_ns=self._unreadable_until_ns)
        return circuit

    def open(self, exchange: str, cause: str, **figures) -> None:
        """Open ``exchange``'s circuit for ``cooldown_s`` and record the trip."""
        circuit = self._circuit(exchange)
        if circuit is None:
            return
        now = self.ctx.clock.time_ns()
        circuit.open_until_ns = now + int(self.settings.cooldown_s * NS)
        circuit.failures.clear()
        circuit.probe = None
        circuit.trips += 1
        self._save()
        self.ctx.record_trip(cause, "open circuit", exchange=exchange, level=AlertLevel.ERROR,
                             cooldown_s=self.settings.cooldown_s, **figures)

    # --- what happened ------------------------------------------------------------------------

    def on_order_update(self, update: OrderUpdate) -> None:
        circuit = self._circuit(update.exchange)
        if circuit is None or update.status is OrderStatus.OBSERVED:
            return
        if circuit.probe is not None and update.client_order_id == circuit.probe:
            if update.status in FAILURES:
                self.open(update.exchange, "circuit re-opened: the probe order failed",
                          order=update.client_order_id, reason=update.reason)
            elif update.status in SUCCESSES or update.status.terminal:
                # the venue answered and did not fail: an IOC that found nothing at its limit ends CANCELLED
                circuit.open_until_ns = circuit.probe = None
                circuit.failures.clear()
                self._save()
                self.ctx.alert(AlertLevel.INFO, "risk", "circuit closed: the venue answered the probe order",
                               exchange=update.exchange, order=update.client_order_id, status=update.status.value)
            return
        if update.status in SUCCESSES:
            circuit.failures.clear()
        elif update.status in FAILURES and circuit.open_until_ns is None:
            now = self.ctx.clock.time_ns()
            circuit.failures.append(now)
            horizon = now - int(self.settings.window_s * NS)
            while circuit.failures and circuit.failures[0] < horizon:
                circuit.failures.popleft()
            if len(circuit.failures) >= self.settings.max_failures:
                self.open(update.exchange, "circuit opened: consecutive order failures",
                          failures=len(circuit.failures), window_s=self.settings.window_s,
                          last_reason=update.reason)

    def on_fill(self, strategy: str, fill: Fill) -> None:
        bound = self.settings.max_fee_bps
        if bound is None or not fill.qty:
            return
        from bot.api.ledger import fee_in_quote  # here: every `arbot` command (--help too) loads this module

        fee = fee_in_quote(fill, *split_symbol(fill.symbol))  # a base fee at the fill's price, as the ledger
        if fee is None:  # a third asset (a swap's network fee in SOL): no price here; the ledger counts it
            return
        fee_bps = fee / (fill.price * fill.qty) * BPS
        if fee_bps > bound:
            self.open(fill.exchange, "circuit opened: fee above its bound", fee_bps=round(fee_bps, 2),
                      max_fee_bps=bound, fee=f"{fill.fee} {fill.fee_asset}", trade=fill.trade_id)

    # --- the gate -----------------------------------------------------------------------------

    def check(self, intent: OrderIntent, view: PortfolioView) -> str | None:
        circuit = self.circuits.get(intent.exchange)
        if circuit is None and self._unreadable_until_ns is not None:
            circuit = self._circuit(intent.exchange)
        if circuit is None or circuit.open_until_ns is None:
            return None
        now = self.ctx.clock.time_ns()
        if now < circuit.open_until_ns:
            return f"circuit for {intent.exchange} is open for {(circuit.open_until_ns - now) / NS:.1f}s more"
        if circuit.probe is not None and now < circuit.probe_until_ns:
            return f"circuit for {intent.exchange} is half-open and its probe order {circuit.probe} is in flight"
        return None

    def accepted(self, intent: OrderIntent) -> None:
        circuit = self.circuits.get(intent.exchange)
        # half-open: this order is the probe, unless observe mode records it without sending it
        if circuit is not None and circuit.open_until_ns is not None and self.ctx.mode != "observe":
            circuit.probe = intent.client_order_id
            circuit.probe_until_ns = self.ctx.clock.time_ns() + int(self.settings.cooldown_s * NS)
            self._save()

    def status(self) -> dict[str, str]:
        now = self.ctx.clock.time_ns()
        facts = {f"circuit {name}": f"{c.state(now)}, {len(c.failures)} / {self.settings.max_failures} failures, "
                                    f"opened {c.trips}x" for name, c in sorted(self.circuits.items())}
        if self.settings.max_fee_bps is not None:
            facts["max fee"] = f"{self.settings.max_fee_bps} bps"
        return facts or {"circuits": "all closed"}


@hookimpl
def register_risk_checks(register) -> None:
    register("breaker", Breaker)
