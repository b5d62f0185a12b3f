"""A scriptable venue: keeps orders by client id like a real exchange and injects faults on demand.

Faults are consumed in order by ``place_order``:
  "transient"   refuse before executing (TransientError)
  "ratelimit"   refuse with RateLimited(retry_after_s=0.05)
  "lost"        execute the order, then lose the response (UnknownOutcome)
  "hang"        execute the order, then never answer (the executor's timeout fires)
  "reject"      refuse for good (PermanentError)
  "none"        execute the order, then return None instead of its state (a plugin bug the host names)

docs/plugins.md tells plugin authors to copy this file: it imports the host through ``bot.api`` only.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from bot import hookimpl
from bot.api import (
    Balance,
    Exchange,
    MarketInfo,
    Order,
    OrderNotFound,
    OrderState,
    OrderStatus,
    PermanentError,
    RateLimited,
    TransientError,
    UnknownOutcome,
)


class ScriptedVenue(Exchange):
    simulated = True
    instances: list[ScriptedVenue] = []

    def __init__(self, *args):
        super().__init__(*args)
        self.faults: list[str] = []
        self.orders: dict[str, OrderState] = {}
        self.submissions: Counter[str] = Counter()
        self.lookup_faults = 0
        self.received: list[Order] = []
        self.batch_calls: list[int] = []
        ScriptedVenue.instances.append(self)

    def market(self, symbol: str) -> MarketInfo:
        base, quote = symbol.split("/")
        return MarketInfo(symbol, base, quote, Decimal("0.01"), Decimal("0.001"))

    async def place_order(self, order: Order) -> OrderState:
        fault = self.faults.pop(0) if self.faults else None
        if fault == "transient":
            raise TransientError("503 service unavailable")
        if fault == "ratelimit":
            raise RateLimited("slow down", retry_after_s=0.05)
        if fault == "reject":
            raise PermanentError("EOrder:Insufficient funds")
        self.submissions[order.client_order_id] += 1
        self.received.append(order)
        state = self.orders.setdefault(order.client_order_id, OrderState(
            order.client_order_id, OrderStatus.OPEN, exchange_order_id=f"X{len(self.orders) + 1}"))
        if fault == "lost":
            raise UnknownOutcome("connection reset after sending")
        if fault == "none":  # a plugin bug: placed, and no state returned
            return None  # type: ignore[return-value]
        if fault == "hang":
            await asyncio.sleep(3600)
        return state

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        state = self.orders.get(client_order_id)
        if state is None:
            raise OrderNotFound(client_order_id)
        state = OrderState(client_order_id, OrderStatus.CANCELLED, state.exchange_order_id)
        self.orders[client_order_id] = state
        return state

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        if self.lookup_faults:
            self.lookup_faults -= 1
            raise TransientError("lookup failed")
        return self.orders.get(client_order_id)

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return [s for s in self.orders.values() if s.status is OrderStatus.OPEN]

    async def balances(self) -> dict[str, Balance]:
        return {"USD": Balance("USD", Decimal(1000), Decimal(1000))}


class BatchVenue(ScriptedVenue):
    """The same venue with a batch endpoint: one request for several orders."""

    supports_batch = True

    async def place_orders(self, orders: list[Order]):
        self.batch_calls.append(len(orders))
        return await super().place_orders(orders)


class KeptVenue(ScriptedVenue):
    """Orders that outlive the bot, as a real venue's do (type ``kept``); ``on_list`` runs when the bot lists open
    orders (its start-up venue check), then, with ``stored``, the bot's executor writes what it applied (what its
    batch writer does ~50 ms later). Set ``ORDERS`` to a fresh dict per test."""

    ORDERS: dict[str, OrderState] = {}
    on_list: Callable[[KeptVenue], None] | None = None
    stored = False

    def __init__(self, *args):
        super().__init__(*args)
        self.orders = KeptVenue.ORDERS

    async def open_orders(self, symbol=None):
        if KeptVenue.on_list is not None:
            KeptVenue.on_list(self)
            if KeptVenue.stored:
                await self.ctx._host.executor.flush()
        return await super().open_orders(symbol)


class plugin:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("scripted", ScriptedVenue)
        register("batch", BatchVenue)
        register("kept", KeptVenue)
