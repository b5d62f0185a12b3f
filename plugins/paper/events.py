"""Making the paper venues' market events at the cost of their fields.

A frozen dataclass sets each field through ``object.__setattr__``, which costs about as much again as
the rest of making the event on this hot path (a public trade per market step, a ``PoolUpdate`` per pool
step); the makers here write the slots directly, one setter call per field (no loop: a loop over the
setters costs more than the constructor it replaces). Each is checked against its domain type at import,
with the plain constructor as fallback if the type ever changes shape. The events are the same: equal,
hashed and shown as the constructor's.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from bot.api import PoolUpdate, Side, Trade
from bot.api.kit import Pool

_TRADE_FIELDS = ("exchange", "symbol", "price", "qty", "taker_side", "ts_ns")
_POOL_UPDATE_FIELDS = ("exchange", "symbol", "pool", "ts_ns", "slot")
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
