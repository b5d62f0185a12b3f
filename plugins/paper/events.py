"""Making the paper venues' events and answers at the cost of their fields.

A frozen dataclass sets each field through ``object.__setattr__``, which costs about as much again as
the rest of making the event on this hot path (a public trade per market step, a ``PoolUpdate`` per pool
step, a ``Fill`` and an ``OrderState`` per fill; an ``OrderReport`` per order a fill changed, too). The makers
here write the slots directly: on a private writable twin of the type (:func:`_writable`: the same slots, plain
assignment, no setter call), which then becomes the type itself (no loop: a loop over the fields costs more than
the constructor it replaces). Each is checked against its domain type at import, with the plain constructor as
fallback if the type ever changes shape. The events are the same: exactly instances of the domain type, equal,
hashed and shown as the constructor's.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from bot.api import Fill, Liquidity, OrderReport, OrderState, OrderStatus, PoolUpdate, Side, Trade
from bot.api.kit import Pool

_TRADE_FIELDS = ("exchange", "symbol", "price", "qty", "taker_side", "ts_ns")
_POOL_UPDATE_FIELDS = ("exchange", "symbol", "pool", "ts_ns", "slot")
_FILL_FIELDS = ("exchange", "symbol", "client_order_id", "trade_id", "side", "price", "qty", "fee", "fee_asset",
                "liquidity", "ts_ns")
_ORDER_REPORT_FIELDS = ("exchange", "symbol", "state", "ts_ns")
_ORDER_STATE_FIELDS = ("client_order_id", "status", "exchange_order_id", "filled_qty", "avg_fill_price", "fills",
                       "reason")
_new = object.__new__


def slots_match(cls: type, names: tuple[str, ...]) -> bool:
    """True when ``cls`` is a dataclass with ``__slots__`` whose fields are ``names``, in that order."""
    return tuple(f.name for f in dataclasses.fields(cls)) == names and "__slots__" in cls.__dict__


def _writable(cls: type) -> Any:
    """A writable twin of the frozen slotted dataclass ``cls``: the same slots (none of its own), written by plain
    assignment (the generic ``__setattr__``: a slot store, where the frozen class's setter is a method call each);
    an instance made with ``object.__new__`` and filled becomes a ``cls`` by assigning ``__class__`` (same layout).
    No instance of it outlives the maker that fills it."""
    return type(f"_Writable{cls.__name__}", (cls,), {"__slots__": (), "__setattr__": object.__setattr__,
                                                     "__delattr__": object.__delattr__})


if slots_match(Trade, _TRADE_FIELDS):
    _WritableTrade = _writable(Trade)

    def new_trade(exchange: str, symbol: str, price: Decimal, qty: Decimal, taker_side: Side, ts_ns: int) -> Trade:
        """``Trade(exchange, symbol, price, qty, taker_side, ts_ns)``."""
        trade = _new(_WritableTrade)
        trade.exchange = exchange
        trade.symbol = symbol
        trade.price = price
        trade.qty = qty
        trade.taker_side = taker_side
        trade.ts_ns = ts_ns
        trade.__class__ = Trade
        return trade

else:  # pragma: no cover - the domain type changed shape

    def new_trade(exchange: str, symbol: str, price: Decimal, qty: Decimal, taker_side: Side, ts_ns: int) -> Trade:
        """``Trade(exchange, symbol, price, qty, taker_side, ts_ns)``."""
        return Trade(exchange, symbol, price, qty, taker_side, ts_ns)


if slots_match(PoolUpdate, _POOL_UPDATE_FIELDS):
    _WritablePoolUpdate = _writable(PoolUpdate)

    def new_pool_update(exchange: str, symbol: str, pool: Pool, ts_ns: int, slot: int) -> PoolUpdate:
        """``PoolUpdate(exchange, symbol, pool, ts_ns, slot)``."""
        update = _new(_WritablePoolUpdate)
        update.exchange = exchange
        update.symbol = symbol
        update.pool = pool
        update.ts_ns = ts_ns
        update.slot = slot
        update.__class__ = PoolUpdate
        return update

else:  # pragma: no cover - the domain type changed shape

    def new_pool_update(exchange: str, symbol: str, pool: Pool, ts_ns: int, slot: int) -> PoolUpdate:
        """``PoolUpdate(exchange, symbol, pool, ts_ns, slot)``."""
        return PoolUpdate(exchange, symbol, pool, ts_ns, slot)


if slots_match(Fill, _FILL_FIELDS):
    _WritableFill = _writable(Fill)

    def new_fill(exchange: str, symbol: str, client_order_id: str, trade_id: str, side: Side, price: Decimal,
                 qty: Decimal, fee: Decimal, fee_asset: str, liquidity: Liquidity, ts_ns: int) -> Fill:
        """``Fill(exchange, symbol, client_order_id, trade_id, side, price, qty, fee, fee_asset, liquidity, ts_ns)``."""
        fill = _new(_WritableFill)
        fill.exchange = exchange
        fill.symbol = symbol
        fill.client_order_id = client_order_id
        fill.trade_id = trade_id
        fill.side = side
        fill.price = price
        fill.qty = qty
        fill.fee = fee
        fill.fee_asset = fee_asset
        fill.liquidity = liquidity
        fill.ts_ns = ts_ns
        fill.__class__ = Fill
        return fill

else:  # pragma: no cover - the domain type changed shape

    def new_fill(exchange: str, symbol: str, client_order_id: str, trade_id: str, side: Side, price: Decimal,
                 qty: Decimal, fee: Decimal, fee_asset: str, liquidity: Liquidity, ts_ns: int) -> Fill:
        """``Fill(exchange, symbol, client_order_id, trade_id, side, price, qty, fee, fee_asset, liquidity, ts_ns)``."""
        return Fill(exchange, symbol, client_order_id, trade_id, side, price, qty, fee, fee_asset, liquidity, ts_ns)


if slots_match(OrderState, _ORDER_STATE_FIELDS):
    _WritableOrderState = _writable(OrderState)

    def new_order_state(client_order_id: str, status: OrderStatus, exchange_order_id: str | None,
                        filled_qty: Decimal, avg_fill_price: Decimal | None, fills: tuple[Fill, ...],
                        reason: str) -> OrderState:
        """``OrderState(client_order_id, status, exchange_order_id, filled_qty, avg_fill_price, fills, reason)``."""
        state = _new(_WritableOrderState)
        state.client_order_id = client_order_id
        state.status = status
        state.exchange_order_id = exchange_order_id
        state.filled_qty = filled_qty
        state.avg_fill_price = avg_fill_price
        state.fills = fills
        state.reason = reason
        state.__class__ = OrderState
        return state

else:  # pragma: no cover - the domain type changed shape

    def new_order_state(client_order_id: str, status: OrderStatus, exchange_order_id: str | None,
                        filled_qty: Decimal, avg_fill_price: Decimal | None, fills: tuple[Fill, ...],
                        reason: str) -> OrderState:
        """``OrderState(client_order_id, status, exchange_order_id, filled_qty, avg_fill_price, fills, reason)``."""
        return OrderState(client_order_id, status, exchange_order_id, filled_qty, avg_fill_price, fills, reason)


if slots_match(OrderReport, _ORDER_REPORT_FIELDS):
    _WritableOrderReport = _writable(OrderReport)

    def new_order_report(exchange: str, symbol: str, state: OrderState, ts_ns: int) -> OrderReport:
        """``OrderReport(exchange, symbol, state, ts_ns)``."""
        report = _new(_WritableOrderReport)
        report.exchange = exchange
        report.symbol = symbol
        report.state = state
        report.ts_ns = ts_ns
        report.__class__ = OrderReport
        return report

else:  # pragma: no cover - the domain type changed shape

    def new_order_report(exchange: str, symbol: str, state: OrderState, ts_ns: int) -> OrderReport:
        """``OrderReport(exchange, symbol, state, ts_ns)``."""
        return OrderReport(exchange, symbol, state, ts_ns)
