"""Making the paper venues' market events at the cost of their fields.

A frozen dataclass sets each field through ``object.__setattr__``, which costs about as much again as
the rest of making the event on this hot path (a public trade per market step, a ``PoolUpdate`` per pool
step); :func:`maker` writes the slots directly. Each maker is checked against its domain type at import,
with the plain constructor as fallback if the type ever changes shape. The events are the same: equal,
hashed and shown as the constructor's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.api import PoolUpdate, Side, Trade
from bot.api.kit import Pool


def maker(cls: type, names: tuple[str, ...]) -> Callable[..., Any]:
    """``cls(*values)`` for a frozen dataclass with ``__slots__`` whose fields are ``names``, in that order,
    setting the slots directly; ``cls`` itself when its fields are other ones or it has no slots."""
    if tuple(f.name for f in dataclasses.fields(cls)) != names or "__slots__" not in cls.__dict__:
        return cls
    new = object.__new__
    setters = tuple(getattr(cls, name).__set__ for name in names)

    def make(*values: Any) -> Any:
        event: Any = new(cls)
        for setter, value in zip(setters, values, strict=True):
            setter(event, value)
        return event

    return make


new_trade: Callable[[str, str, Decimal, Decimal, Side, int], Trade] = maker(
    Trade, ("exchange", "symbol", "price", "qty", "taker_side", "ts_ns"))
"""``Trade(exchange, symbol, price, qty, taker_side, ts_ns)``."""
new_pool_update: Callable[[str, str, Pool, int, int], PoolUpdate] = maker(
    PoolUpdate, ("exchange", "symbol", "pool", "ts_ns", "slot"))
"""``PoolUpdate(exchange, symbol, pool, ts_ns, slot)``."""
