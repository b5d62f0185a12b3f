"""Making the paper venues' events and answers at the cost of their fields.

A frozen dataclass sets each field through ``object.__setattr__``, which costs about as much again as
the rest of making the event on this hot path (a public trade per market step, a ``PoolUpdate`` per pool
step, a ``Fill`` and an ``OrderState`` per fill); the makers here write the slots directly, one setter
call per field (no loop: a loop over the setters costs more than the constructor it replaces; an
``OrderReport`` per order a fill changed, too). Each is
checked against its domain type at import, with the plain constructor as fallback if the type ever
changes shape. The events are the same: equal, hashed and shown as the constructor's.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

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


if slots_match(Trade, _TRADE_FIELDS):
    _t_exchange, _t_symbol, _t_price, _t_qty, _t_side, _t_ts = (getattr(Trade, n).__set__ for n in _TRADE_FIELDS)

    def new_trade(exchange: str, symbol: str, price: Decimal, qty: Decimal, taker_side: Side, ts_ns: int) -> Trade:
        """``Trade(exchange, symbol, price, qty, taker_side, ts_ns)``."""
        trade = _new(Trade)
        _t_exchange(trade, exchange)
        _t_symbol(trade, symbol)
        _t_price(trade, price)
        _t_qty(trade, qty)
        _t_side(trade, taker_side)
        _t_ts(trade, ts_ns)
        return trade

else:  # pragma: no cover - the domain type changed shape

    def new_trade(exchange: str, symbol: str, price: Decimal, qty: Decimal, taker_side: Side, ts_ns: int) -> Trade:
        """``Trade(exchange, symbol, price, qty, taker_side, ts_ns)``."""
        return Trade(exchange, symbol, price, qty, taker_side, ts_ns)


if slots_match(PoolUpdate, _POOL_UPDATE_FIELDS):
    _p_exchange, _p_symbol, _p_pool, _p_ts, _p_slot = (getattr(PoolUpdate, n).__set__ for n in _POOL_UPDATE_FIELDS)

    def new_pool_update(exchange: str, symbol: str, pool: Pool, ts_ns: int, slot: int) -> PoolUpdate:
        """``PoolUpdate(exchange, symbol, pool, ts_ns, slot)``."""
        update = _new(PoolUpdate)
        _p_exchange(update, exchange)
        _p_symbol(update, symbol)
        _p_pool(update, pool)
        _p_ts(update, ts_ns)
        _p_slot(update, slot)
        return update

else:  # pragma: no cover - the domain type changed shape

    def new_pool_update(exchange: str, symbol: str, pool: Pool, ts_ns: int, slot: int) -> PoolUpdate:
        """``PoolUpdate(exchange, symbol, pool, ts_ns, slot)``."""
        return PoolUpdate(exchange, symbol, pool, ts_ns, slot)


if slots_match(Fill, _FILL_FIELDS):
    (_f_exchange, _f_symbol, _f_cid, _f_trade_id, _f_side, _f_price, _f_qty, _f_fee, _f_fee_asset, _f_liquidity,
     _f_ts) = (getattr(Fill, n).__set__ for n in _FILL_FIELDS)  # fmt: skip

    def new_fill(exchange: str, symbol: str, client_order_id: str, trade_id: str, side: Side, price: Decimal,
                 qty: Decimal, fee: Decimal, fee_asset: str, liquidity: Liquidity, ts_ns: int) -> Fill:
        """``Fill(exchange, symbol, client_order_id, trade_id, side, price, qty, fee, fee_asset, liquidity, ts_ns)``."""
        fill = _new(Fill)
        _f_exchange(fill, exchange)
        _f_symbol(fill, symbol)
        _f_cid(fill, client_order_id)
        _f_trade_id(fill, trade_id)
        _f_side(fill, side)
        _f_price(fill, price)
        _f_qty(fill, qty)
        _f_fee(fill, fee)
        _f_fee_asset(fill, fee_asset)
        _f_liquidity(fill, liquidity)
        _f_ts(fill, ts_ns)
        return fill

else:  # pragma: no cover - the domain type changed shape

    def new_fill(exchange: str, symbol: str, client_order_id: str, trade_id: str, side: Side, price: Decimal,
                 qty: Decimal, fee: Decimal, fee_asset: str, liquidity: Liquidity, ts_ns: int) -> Fill:
        """``Fill(exchange, symbol, client_order_id, trade_id, side, price, qty, fee, fee_asset, liquidity, ts_ns)``."""
        return Fill(exchange, symbol, client_order_id, trade_id, side, price, qty, fee, fee_asset, liquidity, ts_ns)


if slots_match(OrderState, _ORDER_STATE_FIELDS):
    _s_cid, _s_status, _s_eid, _s_filled, _s_avg, _s_fills, _s_reason = (
        getattr(OrderState, n).__set__ for n in _ORDER_STATE_FIELDS)

    def new_order_state(client_order_id: str, status: OrderStatus, exchange_order_id: str | None,
                        filled_qty: Decimal, avg_fill_price: Decimal | None, fills: tuple[Fill, ...],
                        reason: str) -> OrderState:
        """``OrderState(client_order_id, status, exchange_order_id, filled_qty, avg_fill_price, fills, reason)``."""
        state = _new(OrderState)
        _s_cid(state, client_order_id)
        _s_status(state, status)
        _s_eid(state, exchange_order_id)
        _s_filled(state, filled_qty)
        _s_avg(state, avg_fill_price)
        _s_fills(state, fills)
        _s_reason(state, reason)
        return state

else:  # pragma: no cover - the domain type changed shape

    def new_order_state(client_order_id: str, status: OrderStatus, exchange_order_id: str | None,
                        filled_qty: Decimal, avg_fill_price: Decimal | None, fills: tuple[Fill, ...],
                        reason: str) -> OrderState:
        """``OrderState(client_order_id, status, exchange_order_id, filled_qty, avg_fill_price, fills, reason)``."""
        return OrderState(client_order_id, status, exchange_order_id, filled_qty, avg_fill_price, fills, reason)


if slots_match(OrderReport, _ORDER_REPORT_FIELDS):
    _r_exchange, _r_symbol, _r_state, _r_ts = (getattr(OrderReport, n).__set__ for n in _ORDER_REPORT_FIELDS)

    def new_order_report(exchange: str, symbol: str, state: OrderState, ts_ns: int) -> OrderReport:
        """``OrderReport(exchange, symbol, state, ts_ns)``."""
        report = _new(OrderReport)
        _r_exchange(report, exchange)
        _r_symbol(report, symbol)
        _r_state(report, state)
        _r_ts(report, ts_ns)
        return report

else:  # pragma: no cover - the domain type changed shape

    def new_order_report(exchange: str, symbol: str, state: OrderState, ts_ns: int) -> OrderReport:
        """``OrderReport(exchange, symbol, state, ts_ns)``."""
        return OrderReport(exchange, symbol, state, ts_ns)
