"""Where an applied fill or order change goes: each once, in a fixed order.

The executor decides *whether* a fill is new (:meth:`bot.execution.Executor.apply_fill`, against
the fills the store holds); :class:`Dispatch` then hands it to everyone who must know, once:
the portfolio (positions the risk checks and ``/positions`` read), every risk check's
``on_fill`` (before the strategy: a trip stops the strategy's reaction), the strategy's
``on_fill`` (through ``deliver``: the host holds what a strategy that is not running yet, or for now, would
have had, and hands it over once it runs), an INFO alert (unless nobody hears alerts: a backtest), and a
:class:`~bot.domain.FillApplied` on the bus. An order change goes on the bus as an
:class:`~bot.domain.OrderUpdate` and to the strategy's ``on_order_update``. A component that
raises is reported through ``guard`` and the others still get the event.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .api import RiskCheck
from .bus import Bus
from .domain import AlertLevel, Fill, FillApplied, OrderUpdate
from .portfolio import Portfolio
from .units import money, price, qty

Guard = Callable[[str, Callable[[Any], Any], Any], None]
"""``guard(owner, func, arg)``: call ``func(arg)``; report an exception as ``owner``'s failure."""
Deliver = Callable[[str, str, Any], None]
"""``deliver(strategy, method, event)``: hand ``event`` to the strategy's ``method`` (``on_fill``,
``on_order_update``), guarded, or hold it for the strategy until it runs; nothing for a failed one."""


class Dispatch:
    def __init__(self, *, portfolio: Portfolio, risk_checks: Callable[[], list[RiskCheck]], bus: Bus,
                 deliver: Deliver, guard: Guard,
                 alert: Callable[..., None], alerts_heard: Callable[[], bool] = lambda: True):
        self._portfolio = portfolio
        self._risk_checks = risk_checks
        self._bus = bus
        self._deliver = deliver
        self._guard = guard
        self._alert = alert
        self._alerts_heard = alerts_heard
        """Whether an alert would reach anyone now (not in a backtest: the fill's alert is not even composed)."""

    def fill(self, strategy_name: str, fill: Fill) -> None:
        """A fill applied for the first time."""
        self._portfolio.on_fill(fill)
        for check in self._risk_checks():
            self._guard(check.name, partial(check.on_fill, strategy_name), fill)
        self._deliver(strategy_name, "on_fill", fill)
        if self._alerts_heard():
            # a fill of no quantity is a fee alone (a swap that landed and failed paid its network fee)
            what = (f"{fill.side.value} {qty(fill.qty)} {fill.symbol} at {price(fill.price)}" if fill.qty
                    else f"fee paid on {fill.symbol}, nothing filled")
            self._alert(AlertLevel.INFO, "fill", what, source=strategy_name, exchange=fill.exchange,
                        fee=money(fill.fee, fill.fee_asset))
        self._bus.publish(FillApplied(strategy_name, fill))

    def order_update(self, strategy_name: str, update: OrderUpdate) -> None:
        self._bus.publish(update)
        self._deliver(strategy_name, "on_order_update", update)

