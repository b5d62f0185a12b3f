"""Where an applied fill or order change goes: each once, in a fixed order.

The executor decides *whether* a fill is new (:meth:`bot.execution.Executor.apply_fill`, against
the fills the store holds); :class:`Dispatch` then hands it to everyone who must know, once:
the portfolio (positions the risk checks and ``/positions`` read), every risk check's
``on_fill`` (before the strategy: a trip stops the strategy's reaction), the strategy's
``on_fill``, an INFO alert (unless nobody hears alerts: a backtest), and a
:class:`~bot.domain.FillApplied` on the bus. An order change goes on the bus as an
:class:`~bot.domain.OrderUpdate` and to the strategy's ``on_order_update``. A component that
raises is reported through ``guard`` and the others still get the event.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .api import RiskCheck, Strategy
from .bus import Bus
from .domain import AlertLevel, Fill, FillApplied, OrderUpdate
from .portfolio import Portfolio
from .units import money, price, qty

Guard = Callable[[str, Callable[[Any], Any], Any], None]
"""``guard(owner, func, arg)``: call ``func(arg)``; report an exception as ``owner``'s failure."""


class Dispatch:
    def __init__(self, *, portfolio: Portfolio, risk_checks: Callable[[], list[RiskCheck]], bus: Bus,
                 strategy: Callable[[str], Strategy | None], guard: Guard,
                 alert: Callable[..., None], alerts_heard: Callable[[], bool] = lambda: True):
        self._portfolio = portfolio
        self._risk_checks = risk_checks
        self._bus = bus
        self._strategy = strategy
        """The strategy called NAME if it is running (not failed), else None."""
        self._guard = guard
        self._alert = alert
        self._alerts_heard = alerts_heard
        """Whether an alert would reach anyone now (not in a backtest: the fill's alert is not even composed)."""

    def fill(self, strategy_name: str, fill: Fill) -> None:
        """A fill applied for the first time."""
        self._portfolio.on_fill(fill)
        for check in self._risk_checks():
            self._guard(check.name, partial(check.on_fill, strategy_name), fill)
        strategy = self._strategy(strategy_name)
        if strategy is not None:
            self._guard(strategy_name, strategy.on_fill, fill)
        if self._alerts_heard():
            self._alert(AlertLevel.INFO, "fill", f"{fill.side.value} {qty(fill.qty)} {fill.symbol} at "
                        f"{price(fill.price)}", source=strategy_name, exchange=fill.exchange,
                        fee=money(fill.fee, fill.fee_asset))
        self._bus.publish(FillApplied(strategy_name, fill))

    def order_update(self, strategy_name: str, update: OrderUpdate) -> None:
        self._bus.publish(update)
        strategy = self._strategy(strategy_name)
        if strategy is not None:
            self._guard(strategy_name, strategy.on_order_update, update)

