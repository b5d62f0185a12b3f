"""Shared by the risk tests: a strategy that only records, a notifier that records, fills made to order."""

from __future__ import annotations

import itertools
from decimal import Decimal

from bot import hookimpl
from bot.api import Notifier, Strategy
from bot.clock import ManualClock
from bot.domain import BookUpdate, Fill, Liquidity, OrderIntent, Side

_trade_ids = itertools.count(1)


class Recorder(Strategy):
    """Trades nothing by itself; tests submit through its context. Records what it hears."""

    def __init__(self, *args):
        super().__init__(*args)
        self.fills: list[Fill] = []
        self.updates = []

    def markets(self):
        return [("v", "BTC/USD")]

    def on_fill(self, fill):
        self.fills.append(fill)

    def on_order_update(self, update):
        self.updates.append(update)


class Alerts(Notifier):
    """Keeps every alert it is sent."""

    sent: list = []

    async def send(self, alert):
        Alerts.sent.append(alert)


class plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("recorder", Recorder)

    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("alerts", Alerts)


def intent(strategy: str, side: Side, qty: str, price: str, cid: str | None = None, symbol: str = "BTC/USD",
           exchange: str = "v") -> OrderIntent:
    return OrderIntent(strategy, exchange, symbol, side, Decimal(qty), Decimal(price), client_order_id=cid)


MADE_NS = ManualClock().time_ns()
"""When :func:`fill`'s fills are made by default: the test clock's start, so they are today's on a ManualClock
as the ledger and the limits date a fill (by its ``ts_ns``)."""


def fill(cid: str, side: Side, qty: str, price: str, fee: str = "0", ts_ns: int = MADE_NS, symbol: str = "BTC/USD",
         exchange: str = "v", fee_asset: str | None = None) -> Fill:
    return Fill(exchange, symbol, cid, f"t{next(_trade_ids)}", side, Decimal(price), Decimal(qty), Decimal(fee),
                fee_asset or symbol.split("/")[1], Liquidity.TAKER, ts_ns)


def book(mid: str, exchange: str = "v", symbol: str = "BTC/USD", ts_ns: int = 0) -> BookUpdate:
    m = Decimal(mid)
    return BookUpdate(exchange, symbol, ((m - Decimal("0.01"), Decimal(10)),), ((m + Decimal("0.01"), Decimal(10)),),
                      ts_ns)


def risk_check(bot, name: str):
    return next(c for c in bot.risk.checks if c.name == name)


def trips(bot, check: str | None = None):
    """Stored trips (not single-order vetoes), oldest first: once the store writer has written what was handed over
    (risk events are written off the loop)."""
    bot.writer.settle()
    rows = bot.store.risk_events(100, trips_only=True)
    return [r for r in reversed(rows) if check is None or r.check_name == check]
